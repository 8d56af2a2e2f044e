/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel headers for quic.ko's module-local bindings: bindgen runs over this file with the target
 * tree's own flags at module build time (see Kbuild), so the module builds against an unpatched
 * CONFIG_RUST=y tree.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <net/sock.h>
#include <net/protocol.h>
#include <net/inet_common.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>
#include <net/net_namespace.h>
#include <crypto/aead.h>
#include <crypto/skcipher.h>
#include <crypto/hash.h>
#include <net/handshake.h>
#include <net/tcp_states.h>
#include <linux/poll.h>
#include <linux/fcntl.h>
#include "shim.h"
