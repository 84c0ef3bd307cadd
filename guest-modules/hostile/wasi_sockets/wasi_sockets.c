/*
 * wasi_sockets: a session module that asks for the network. wasi-libc has
 * no socket calls for WASI 0.2, so the module imports the WASI 0.2 function
 * itself, by its canonical-ABI name: `instance-network` of
 * wasi:sockets/instance-network (a handle to the default network), and drops
 * the handle again. sockets.wit declares the world it is built for, the
 * session-module world plus that import (build.json).
 *
 * open-session shows `wasi_sockets: network <handle>` and returns
 * PAM_SUCCESS; close-session returns PAM_SUCCESS. The host has no grant for
 * sockets: it always refuses to load this module.
 */
#include <stdint.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

__attribute__((import_module("wasi:sockets/instance-network@0.2.0"), import_name("instance-network")))
extern int32_t wasi_instance_network(void);

__attribute__((import_module("wasi:sockets/network@0.2.0"), import_name("[resource-drop]network")))
extern void wasi_network_drop(int32_t network);

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    int32_t network = wasi_instance_network();

    (void)flags; (void)argc; (void)argv;
    pam_info(pamh, "wasi_sockets: network %d", (int)network);
    wasi_network_drop(network);
    return PAM_SUCCESS;
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
