// The configs and scripts the HA lab starts keepalived and conntrackd with. keepalived.conf and
// conntrackd.conf have the shape and @PLACEHOLDER@s of the shipped examples (examples/ha/ of
// issue 14), plus what the lab needs beyond them (@UPLINK_VIPS@: see ha-network.ts); the notify
// script does what the shipped netgwm-notify does. They call `@NETGWM@ health` and
// `@NETGWM@ role STATE`: the real netgwm, or FAKE_NETGWM, a stand-in with the same interface.

/**
 * keepalived.conf: one VRRP instance on the LAN holding the LAN VIP and one VIP per uplink
 * segment (the operators route the LAN back to that address, so replies follow the master),
 * `@NETGWM@ health` as weighted track script and the notify script.
 */
export const KEEPALIVED_CONF = `global_defs {
	enable_script_security
	script_user root
}

vrrp_script netgwm_health {
	script "@NETGWM@ health -c @NETGWM_CONFIG@"
	interval 2
	timeout 5
	fall 2
	rise 2
	weight -60
}

vrrp_instance netgwm_lan {
	state BACKUP
	interface @LAN_DEV@
	virtual_router_id @VRID@
	priority @PRIORITY@
	advert_int 1
	virtual_ipaddress {
		@VIP@/@VIP_PREFIXLEN@ dev @LAN_DEV@
@UPLINK_VIPS@
	}
	track_script {
		netgwm_health
	}
	notify "@NOTIFY@ --netgwm @NETGWM@ -c @NETGWM_CONFIG@"
}
`;

/** conntrackd.conf: FTFW over UDP on the dedicated sync link (as the shipped example). */
export const CONNTRACKD_CONF = `Sync {
	Mode FTFW {
		DisableExternalCache off
		CommitTimeout 1800
		PurgeTimeout 5
	}
	UDP {
		IPv4_address @LOCAL_SYNC_IP@
		IPv4_Destination_Address @PEER_SYNC_IP@
		Port 3780
		Interface @SYNC_DEV@
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	HashSize 32768
	HashLimit 131072
	LogFile @LOG_FILE@
	Syslog off
	LockFile @LOCK_FILE@
	UNIX {
		Path @CTL_SOCKET@
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Protocol Accept {
			TCP
			UDP
			ICMP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address @VIP@
			IPv4_address @LOCAL_SYNC_IP@
			IPv4_address @PEER_SYNC_IP@
		}
	}
}
`;

/**
 * The notify script: keepalived appends TYPE NAME STATE PRIORITY; this maps the state to
 * `@NETGWM@ role ROLE -c CONFIG` as the shipped netgwm-notify does, and logs the state it was
 * told in @RUN_DIR@/notify.log once that returned (what the tests wait for).
 */
export const NOTIFY_SCRIPT = `#!/bin/sh
set -u
while [ $# -gt 0 ]; do
	case "$1" in
		-c) config=$2; shift 2 ;;
		--netgwm) netgwm=$2; shift 2 ;;
		*) break ;;
	esac
done
case "\${3-}" in
	MASTER) role=master ;;
	BACKUP|STOP) role=backup ;;
	FAULT) role=fault ;;
	*) echo "unknown keepalived state '\${3-}'" >&2; exit 2 ;;
esac
"$netgwm" role "$role" -c "$config" >> "@RUN_DIR@/role.log" 2>&1
echo "$3" >> "@RUN_DIR@/notify.log"
`;

/**
 * Stands in for netgwm where the lab runs without it: \`health\` is healthy while
 * @RUN_DIR@/unhealthy is absent; \`role master|backup|fault\` runs conntrackd's own
 * primary-backup.sh sequence (commit, flush, resync, bulk-send as master; shorten the timers and
 * ask for a resync as backup; shorten the timers on fault), unless @RUN_DIR@/no-commit exists.
 */
export const FAKE_NETGWM = `#!/bin/sh
ctl() { /usr/sbin/conntrackd -C "@CONNTRACKD_CONF@" "$@" || echo "conntrackd $* failed"; }
case "$1" in
	health)
		if [ -e "@RUN_DIR@/unhealthy" ]; then echo "fail: no usable gateway"; exit 1; fi
		echo "ok: test health file absent" ;;
	role)
		[ -e "@RUN_DIR@/no-commit" ] && exit 0
		case "$2" in
			master) ctl -c; ctl -f; ctl -R; ctl -B ;;
			backup) ctl -t; ctl -n ;;
			fault) ctl -t ;;
		esac ;;
	*) echo "fake netgwm: unknown command $1" >&2; exit 2 ;;
esac
`;

/** Replaces every @KEY@ by values[KEY]; throws when the template names a key without a value. */
export function renderTemplate(template: string, values: Record<string, string>, what: string): string {
  const missing = new Set<string>();
  const text = template.replace(/@([A-Z_]+)@/g, (match, key: string) => {
    const value = values[key];
    if (value === undefined) missing.add(key);
    return value ?? match;
  });
  if (missing.size > 0) throw new Error(`${what}: no value for placeholder(s) ${[...missing].map((key) => `@${key}@`).join(', ')}`);
  return text;
}
