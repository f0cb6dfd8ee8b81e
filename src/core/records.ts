// Records keyed by names from the config (gateways, check sites). A plain object inherits
// `constructor`, `toString`, `__proto__`…, so a lookup by a name must see own properties only.

/** `record[key]` if the record itself has that key; never an inherited property. */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
