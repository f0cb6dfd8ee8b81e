// The series journal's format: whole records come back as written; a torn last record is skipped
// quietly; a record that is not one ends the reading with where and what.
import { describe, expect, it } from 'vitest';
import {
  encodeJournalRecord,
  JOURNAL_HEADER_BYTES,
  type JournalPath,
  journalHeader,
  readJournal,
} from '../../../src/state/series-journal.js';

const ID = '0123456789abcdef';
const bucket = (bucket: number, sent: number, answered: number, rttSumMs = 10 * answered, ring: 'fine' | 'coarse' = 'fine') => ({
  ring,
  bucket,
  sent,
  answered,
  rttSumMs,
  rttMaxMs: answered > 0 ? 12.5 : 0,
});
const first: JournalPath[] = [
  { key: 'isp1', buckets: [bucket(176_454_000, 10, 9), bucket(176_454_001, 10, 10), bucket(5_881_800, 60, 59, 590, 'coarse')] },
  { key: 'isp1/6', buckets: [bucket(176_454_000, 10, 0)] },
];
const second: JournalPath[] = [{ key: 'lte', buckets: [bucket(176_454_002, 4, 4, 123.25)] }];

const journal = (...records: Buffer[]) => Buffer.concat([journalHeader(ID), ...records]);
const records = [encodeJournalRecord(first), encodeJournalRecord(second)];
const secondStart = JOURNAL_HEADER_BYTES + records[0]!.length;

describe('series journal', () => {
  it('gives back every path of every record, in order, and where the next record goes', () => {
    const bytes = journal(...records);
    expect(readJournal(bytes)).toEqual({ snapshotId: ID, paths: [...first, ...second], validEnd: bytes.length, torn: false });
    expect(readJournal(journalHeader(ID))).toEqual({ snapshotId: ID, paths: [], validEnd: JOURNAL_HEADER_BYTES, torn: false });
  });

  it('writes 21 bytes a bucket, and a few for the record and each path', () => {
    expect(records[1]!.length).toBe(9 + 1 + 'lte'.length + 2 + 21);
  });

  it.each([1, 5, 9, 20, records[1]!.length - 1])('skips a last record cut after %i bytes, quietly', (kept) => {
    const bytes = journal(records[0]!, records[1]!.subarray(0, kept));
    expect(readJournal(bytes)).toEqual({ snapshotId: ID, paths: first, validEnd: secondStart, torn: true });
  });

  it.each<[string, (bytes: Buffer) => void, RegExp]>([
    [
      'a checksum that does not match',
      (bytes) => (bytes[JOURNAL_HEADER_BYTES + 20]! ^= 1),
      /^offset 24: a record whose checksum does not match$/,
    ],
    [
      'a length no record has',
      (bytes) => bytes.writeUInt32LE(0xffffffff, JOURNAL_HEADER_BYTES + 1),
      /^offset 24: a record of 4294967295 bytes$/,
    ],
    ['no marker', (bytes) => (bytes[JOURNAL_HEADER_BYTES] = 0), /^offset 24: no record starts here$/],
  ])('ends at %s, with the records before it', (_name, spoil, problem) => {
    const bytes = journal(...records);
    spoil(bytes);
    expect(readJournal(bytes)).toEqual({
      snapshotId: ID,
      paths: [],
      validEnd: JOURNAL_HEADER_BYTES,
      torn: false,
      problem: expect.stringMatching(problem),
    });
  });

  it('ends at garbage after whole records (zeros a crash left), keeping those records', () => {
    const read = readJournal(journal(...records, Buffer.alloc(100)));
    expect(read).toEqual({
      snapshotId: ID,
      paths: [...first, ...second],
      validEnd: secondStart + records[1]!.length,
      torn: false,
      problem: `offset ${secondStart + records[1]!.length}: no record starts here`,
    });
  });

  it.each<[string, JournalPath[], RegExp]>([
    ['a bucket that does not add up', [{ key: 'isp1', buckets: [bucket(1, 2, 3)] }], /isp1: bucket 1 does not add up/],
    ['a negative RTT', [{ key: 'isp1', buckets: [bucket(1, 2, 2, -5)] }], /isp1: bucket 1 does not add up/],
    ['an RTT that is not a number', [{ key: 'isp1', buckets: [bucket(1, 2, 2, Number.NaN)] }], /isp1: bucket 1 does not add up/],
  ])('ends at a record with a good checksum but %s', (_name, paths, problem) => {
    const read = readJournal(journal(records[0]!, encodeJournalRecord(paths)));
    expect(read).toMatchObject({ paths: first, validEnd: secondStart, problem: expect.stringMatching(problem) });
  });

  it.each([
    ['nothing', Buffer.alloc(0)],
    ['another file', Buffer.from('hello\n')],
    ['an id that is no id', Buffer.from('NGWSJ1 0123456789ABCDEF\n')],
  ])('refuses %s as a journal', (_name, bytes) => {
    expect(readJournal(bytes)).toEqual({ problem: 'not a series journal (expected a first line "NGWSJ1 " and 16 hex digits)' });
  });
});
