// SPDX-License-Identifier: GPL-2.0
//! Registration of IPPROTO_QUIC with the inet and inet6 families, for SOCK_STREAM and SOCK_DGRAM.

use kernel::{error::to_result, prelude::*};

use crate::listen;
use crate::msg;
use crate::socket::{self, Quic6Sock, QuicSock};
use crate::sockopt;
use crate::sys;

/// `IPPROTO_QUIC`.
pub(crate) const IPPROTO_QUIC: u16 = quic_uapi::IPPROTO_QUIC as u16;

/// Everything registered with the socket layer; unregistered on drop. The structures live in
/// boxes so their addresses stay fixed while the kernel links them into its lists.
pub(crate) struct Registration {
    prot: KBox<sys::proto>,
    prot6: KBox<sys::proto>,
    /// Only referenced by the switch entries; owned here so they outlive the registration.
    _ops: KBox<sys::proto_ops>,
    _ops6: KBox<sys::proto_ops>,
    sw: [KBox<sys::inet_protosw>; 2],
    sw6: [KBox<sys::inet_protosw>; 2],
    /// How far `register` got, so that drop undoes exactly that.
    stage: u8,
}

// SAFETY: the registered structures are immutable after registration and only read by the kernel.
unsafe impl Send for Registration {}
// SAFETY: as above.
unsafe impl Sync for Registration {}

fn name32(s: &[u8]) -> [kernel::ffi::c_char; 32] {
    let mut n = [0 as kernel::ffi::c_char; 32];
    for (d, c) in n.iter_mut().zip(s.iter().take(31)) {
        *d = *c as kernel::ffi::c_char;
    }
    n
}

fn proto(owner: *mut sys::module, v6: bool) -> sys::proto {
    let mut p = sys::proto {
        close: Some(socket::quic_close),
        init: Some(socket::quic_init),
        destroy: Some(socket::quic_destroy),
        bind: Some(socket::quic_bind),
        accept: Some(listen::quic_accept),
        setsockopt: Some(sockopt::quic_setsockopt),
        getsockopt: Some(sockopt::quic_getsockopt),
        hash: Some(socket::quic_hash),
        unhash: Some(socket::quic_unhash),
        // No port autobinding through the inet layer: the UDP tunnel owns the port.
        no_autobind: true,
        owner,
        ..Default::default()
    };
    if v6 {
        p.name = name32(b"QUICv6");
        p.obj_size = core::mem::size_of::<Quic6Sock>() as u32;
        p.ipv6_pinfo_offset = core::mem::offset_of!(Quic6Sock, v6) as u32;
    } else {
        p.name = name32(b"QUIC");
        p.obj_size = core::mem::size_of::<QuicSock>() as u32;
    }
    p
}

fn ops(owner: *mut sys::module, v6: bool) -> sys::proto_ops {
    sys::proto_ops {
        family: if v6 { sys::PF_INET6 } else { sys::PF_INET } as i32,
        owner,
        release: Some(if v6 {
            sys::inet6_release
        } else {
            sys::inet_release
        }),
        bind: Some(if v6 { sys::inet6_bind } else { sys::inet_bind }),
        connect: Some(socket::quic_connect),
        socketpair: Some(sys::sock_no_socketpair),
        accept: Some(sys::inet_accept),
        getname: Some(if v6 {
            sys::inet6_getname
        } else {
            sys::inet_getname
        }),
        poll: Some(msg::quic_poll),
        ioctl: Some(if v6 {
            sys::inet6_ioctl
        } else {
            sys::inet_ioctl
        }),
        listen: Some(listen::quic_listen),
        shutdown: Some(socket::quic_shutdown),
        setsockopt: Some(sys::sock_common_setsockopt),
        getsockopt: Some(sys::sock_common_getsockopt),
        sendmsg: Some(msg::quic_sendmsg),
        recvmsg: Some(msg::quic_recvmsg),
        mmap: Some(sys::sock_no_mmap),
        ..Default::default()
    }
}

fn protosw(ty: u32, prot: &mut sys::proto, ops: &sys::proto_ops) -> sys::inet_protosw {
    sys::inet_protosw {
        type_: ty as u16,
        protocol: IPPROTO_QUIC,
        prot,
        ops,
        ..Default::default()
    }
}

impl Registration {
    /// Registers both protos and the four (family, type) switch entries.
    pub(crate) fn register(module: &'static ThisModule) -> Result<KBox<Self>> {
        let owner = module.as_ptr().cast::<sys::module>();
        let mut prot = KBox::new(proto(owner, false), GFP_KERNEL)?;
        let mut prot6 = KBox::new(proto(owner, true), GFP_KERNEL)?;
        let ops4 = KBox::new(ops(owner, false), GFP_KERNEL)?;
        let ops6 = KBox::new(ops(owner, true), GFP_KERNEL)?;
        let (st, dg) = (sys::sock_type_SOCK_STREAM, sys::sock_type_SOCK_DGRAM);
        let sw = [
            KBox::new(protosw(st, &mut prot, &ops4), GFP_KERNEL)?,
            KBox::new(protosw(dg, &mut prot, &ops4), GFP_KERNEL)?,
        ];
        let sw6 = [
            KBox::new(protosw(st, &mut prot6, &ops6), GFP_KERNEL)?,
            KBox::new(protosw(dg, &mut prot6, &ops6), GFP_KERNEL)?,
        ];
        let mut reg = KBox::new(
            Registration {
                prot,
                prot6,
                _ops: ops4,
                _ops6: ops6,
                sw,
                sw6,
                stage: 0,
            },
            GFP_KERNEL,
        )?;

        // SAFETY: `prot` is fully initialised and lives (boxed) until `drop` unregisters it.
        to_result(unsafe { sys::proto_register(&mut *reg.prot, 1) })?;
        reg.stage = 1;
        // SAFETY: as above.
        to_result(unsafe { sys::proto_register(&mut *reg.prot6, 1) })?;
        reg.stage = 2;
        for i in 0..2 {
            // SAFETY: the switch entry and the proto/ops it points to live until `drop`. (It only
            // warns on a clash; IPPROTO_QUIC has no other owner.)
            unsafe { sys::inet_register_protosw(&mut *reg.sw[i]) };
            reg.stage += 1;
        }
        for i in 0..2 {
            // SAFETY: as above.
            to_result(unsafe { sys::inet6_register_protosw(&mut *reg.sw6[i]) })?;
            reg.stage += 1;
        }
        Ok(reg)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Undo in reverse order; each step only if it was done.
        for i in (0..2).rev() {
            if self.stage as usize > 4 + i {
                // SAFETY: registered in `register`.
                unsafe { sys::inet6_unregister_protosw(&mut *self.sw6[i]) };
            }
        }
        for i in (0..2).rev() {
            if self.stage as usize > 2 + i {
                // SAFETY: registered in `register`.
                unsafe { sys::inet_unregister_protosw(&mut *self.sw[i]) };
            }
        }
        if self.stage >= 2 {
            // SAFETY: registered in `register`; no socket can exist (each holds a module ref).
            unsafe { sys::proto_unregister(&mut *self.prot6) };
        }
        if self.stage >= 1 {
            // SAFETY: as above.
            unsafe { sys::proto_unregister(&mut *self.prot) };
        }
    }
}
