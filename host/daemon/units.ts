/**
 * The systemd units `pamwasm install` lays down: a socket unit that owns
 * /run/pamwasm/pamwasm.sock (so the daemon starts on the first login and
 * restarts lose no connection attempt), and the service it activates.
 */

/** The socket: reachable by anyone; who is served is decided by SO_PEERCRED in the daemon. */
export const SOCKET_UNIT = `[Unit]
Description=pamwasm daemon socket (pam_wasm.so)
Documentation=man:pam(8)

[Socket]
ListenStream=/run/pamwasm/pamwasm.sock
SocketMode=0666
DirectoryMode=0755
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
`;

/** The service, started by the socket. It starts as root (to prepare its folder), then drops to pamwasm. */
export function serviceUnit(node: string, bin: string, docs: string): string {
  return `[Unit]
Description=pamwasm daemon: WebAssembly PAM session modules for pam_wasm.so
Documentation=file://${docs}
Requires=pamwasm.socket
After=pamwasm.socket

[Service]
Type=simple
ExecStart=${node} ${bin} daemon --user pamwasm --log stderr
Restart=always
RestartSec=1
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=read-only
PrivateTmp=yes
ReadWritePaths=/var/lib/pamwasm

[Install]
WantedBy=multi-user.target
`;
}
