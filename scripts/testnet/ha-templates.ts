// The configs the HA lab starts keepalived and conntrackd with, in the shape the shipped
// examples (examples/ha/, issue 14) take: @PLACEHOLDER@s that renderTemplate() fills in. Until
// those examples exist these stand in for them; switching is reading the file instead.

/**
 * keepalived.conf: one VRRP instance on the LAN with the LAN VIP and one VIP per uplink
 * segment (the operators route the LAN back to that address, so replies follow the master), a
 * weighted track script (later `netgwm health`) and a notify script.
 */
export const KEEPALIVED_CONF = `global_defs {
  router_id @ROUTER_ID@
  script_user root
  enable_script_security
}

vrrp_script uplink_health {
  script "@HEALTH_COMMAND@"
  interval 1
  timeout 5
  fall 1
  rise 1
  weight -100
}

vrrp_instance lan {
  state BACKUP
  interface @LAN_DEV@
  virtual_router_id 51
  priority @PRIORITY@
  advert_int 1
  virtual_ipaddress {
    @VIP@/24 dev @LAN_DEV@
@UPLINK_VIPS@
  }
  track_script {
    uplink_health
  }
  notify "@NOTIFY_COMMAND@"
}
`;

/** conntrackd.conf: FTFW over UDP on the dedicated sync link, TCP and UDP flows only. */
export const CONNTRACKD_CONF = `Sync {
  Mode FTFW {
    StartupResync on
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
  HashSize 8192
  HashLimit 65536
  Syslog off
  LogFile @RUN_DIR@/conntrackd.log
  LockFile @RUN_DIR@/conntrackd.lock
  UNIX {
    Path @RUN_DIR@/conntrackd.ctl
  }
  NetlinkBufferSize 2097152
  NetlinkBufferSizeMaxGrowth 8388608
  Filter From Userspace {
    Protocol Accept {
      TCP
      UDP
    }
    Address Ignore {
@IGNORED_ADDRESSES@
    }
  }
}
`;

/**
 * The notify script keepalived calls ("INSTANCE" NAME STATE PRIORITY): what conntrackd's own
 * primary-backup.sh does (commit, flush, resync, bulk-send as master; shorten timers and ask for
 * a resync as backup), then one line in @RUN_DIR@/notify.log. Later `netgwm role STATE`.
 */
export const NOTIFY_SCRIPT = `#!/bin/sh
state="$3"
ctl() { /usr/sbin/conntrackd -C "@CONNTRACKD_CONF@" "$@" || echo "conntrackd $* failed" >> "@RUN_DIR@/notify.log"; }
case "$state" in
  MASTER) ctl -c; ctl -f; ctl -R; ctl -B ;;
  BACKUP) ctl -t; ctl -n ;;
  FAULT) ctl -t ;;
esac
echo "$state" >> "@RUN_DIR@/notify.log"
`;

/** A notify script that only logs the state: the control case of a takeover without a commit. */
export const LOG_ONLY_NOTIFY_SCRIPT = `#!/bin/sh
echo "$3" >> "@RUN_DIR@/notify.log"
`;

/**
 * Stands in for \`netgwm health\` as the track script: healthy while @RUN_DIR@/unhealthy is absent,
 * printing one line as netgwm health does.
 */
export const HEALTH_SCRIPT = `#!/bin/sh
if [ -e "@RUN_DIR@/unhealthy" ]; then echo "fail: no usable gateway"; exit 1; fi
echo "ok: test health file absent"
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
