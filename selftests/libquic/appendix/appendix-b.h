/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Includes the draft's Appendix B unchanged: libquic's declarations first,
 * then the appendix's four static helpers renamed so that they do not clash
 * with the library functions of the same names (see README.md).
 */
#include <netinet/quic.h>
#define quic_session_get_data appendix_b_quic_session_get_data
#define quic_session_set_data appendix_b_quic_session_set_data
#define quic_session_get_alpn appendix_b_quic_session_get_alpn
#define quic_session_set_alpn appendix_b_quic_session_set_alpn
#include "appendix-b.c"
#undef quic_session_get_data
#undef quic_session_set_data
#undef quic_session_get_alpn
#undef quic_session_set_alpn
