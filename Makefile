# kquic: QUIC in the Linux kernel, written in Rust.
#
#   make demo    build everything, boot the VM, load quic.ko and show QUIC sockets at work
#   make check   all tests: host (cargo test, clippy, fmt, C ABI checks) and VM selftests
#   make bench   tables of measured numbers (host, then the VM part: make bench-vm)
#   make interop our engine against quinn and aioquic over loopback UDP, also through the
#                impairment relay
#   make fuzz    every fuzz target for FUZZ_SECONDS each
#   make fuzz-kernel  the IPPROTO_QUIC syscall fuzzer in the VM for FUZZ_KERNEL_SECONDS
#
# Each target installs what it needs (vm/setup-toolchain.sh) and builds the guest kernel once
# into a cache outside the tree (~/.cache/kquic, keyed by kernel version + config hash).

SHELL := /bin/bash
ROOT := $(CURDIR)
BUILD := $(ROOT)/build
FLAVOUR ?= default
# Where the crates built into quic.ko (uapi, mem, proto) are taken from.
CORE_ROOT ?= $(ROOT)
FUZZ_SECONDS ?= 60
export KQUIC_FLAVOUR := $(FLAVOUR)
# The guest kernel: 6.12 (Debian's 6.12 LTS, the default) or 7 (the newest linux-source-7.x of
# Debian's archive, fetched by vm/fetch-kernel.sh). Module builds are kept apart per kernel.
KERNEL ?= 6.12
export KQUIC_KERNEL := $(KERNEL)
KTAG := $(if $(filter 6.12,$(KERNEL)),,-k$(KERNEL))
# Host cargo: rustup's toolchain; the kernel build uses Debian's rustc-web (vm/lib.sh).
CARGO ?= cargo

KMOD := $(BUILD)/kmod-$(FLAVOUR)$(KTAG)
KO := $(KMOD)/quic.ko

.PHONY: all setup kernel module samples selftests host-check vm-check check check-kernels check-debug demo bench bench-vm interop fuzz fuzz-kernel clean \
	libquic libquic-check install agent agent-install

all: module selftests

setup:
	@vm/setup-toolchain.sh

kernel: setup
	@vm/build-kernel.sh $(FLAVOUR) >/dev/null

# quic.ko is built out of tree from a copy of kmod/ per flavour, so flavours never mix objects.
module: kernel
	@mkdir -p $(KMOD)
	@rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' kmod/ $(KMOD)/
	@source vm/lib.sh && $(MAKE) -s -C "$$(kernel_dir $(FLAVOUR))" M=$(KMOD) \
		$$(flavour_make_args $(FLAVOUR)) \
		KQUIC_ROOT=$(CORE_ROOT) CLIPPY=1 modules
	@echo "[kquic] built $(KO)"

selftests:
	@$(MAKE) -s -C selftests OUT=$(BUILD)/selftests

# libquic, the C library (libquic/Makefile): libquic.so.1, libquic.a, libquic.pc into build/libquic;
# `make install` puts it, netinet/quic.h, linux/quic.h and the man pages under DESTDIR/PREFIX.
libquic:
	@$(MAKE) -s -C libquic OUT=$(BUILD)/libquic

libquic-check:
	@$(MAKE) -s -C libquic OUT=$(BUILD)/libquic check

install:
	@$(MAKE) -s -C libquic OUT=$(BUILD)/libquic install

# kquic-agent, the handshake daemon (agent/, Documentation/networking/kquic-agent.rst):
# `make agent-install` puts the binary, the systemd unit and the example configuration under
# DESTDIR; the example becomes /etc/kquic/kquic-agent.toml unless that file exists.
agent:
	$(CARGO) build --release -p kquic-agent

agent-install: agent
	install -D -m 0755 target/release/kquic-agent $(DESTDIR)/usr/sbin/kquic-agent
	install -D -m 0644 agent/kquic-agent.service $(DESTDIR)/etc/systemd/system/kquic-agent.service
	install -D -m 0644 agent/kquic-agent.toml.example $(DESTDIR)/etc/kquic/kquic-agent.toml.example
	test -e $(DESTDIR)/etc/kquic/kquic-agent.toml || \
		install -m 0644 agent/kquic-agent.toml.example $(DESTDIR)/etc/kquic/kquic-agent.toml

host-check:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2021 --check kmod/quic_main.rs
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	$(MAKE) libquic-check

# samples/quic: an in-kernel QUIC consumer (C), built against quic.ko's exported symbols.
SAMPLES := $(BUILD)/samples-$(FLAVOUR)$(KTAG)
samples: module
	@mkdir -p $(SAMPLES)
	@rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' samples/quic/ $(SAMPLES)/
	@source vm/lib.sh && $(MAKE) -s -C "$$(kernel_dir $(FLAVOUR))" M=$(SAMPLES) \
		$$(flavour_make_args $(FLAVOUR)) KQUIC_ROOT=$(ROOT) \
		KBUILD_EXTRA_SYMBOLS=$(KMOD)/Module.symvers modules
	@echo "[kquic] built $(SAMPLES)/quic_sample.ko"

vm-check: module samples selftests
	vm/run.sh -f $(FLAVOUR) -- selftests/run.sh $(KO) $(BUILD)/selftests

check: setup host-check vm-check

# The VM suite on both kernels, one after the other: 6.12 LTS, then the newest 7.x (a cold 7.x
# kernel build adds ~35 min; not part of .ci/run).
check-kernels: setup host-check
	$(MAKE) KERNEL=6.12 vm-check
	$(MAKE) KERNEL=7 vm-check

# The reliability run: KASAN, lockdep, kmemleak, KFENCE, atomic-sleep checks.
check-debug: setup
	$(MAKE) FLAVOUR=debug vm-check

demo: module selftests
	@$(MAKE) -s -C demo OUT=$(BUILD)/demo
	vm/run.sh -f $(FLAVOUR) -- demo/demo.sh $(KO) $(BUILD)/demo

bench:
	$(CARGO) run --release -p quic-hostcrypto --example protect_bench
	$(CARGO) run --release -p quic-interop --bin kquic-bench
	$(MAKE) bench-vm

# One guest boot, one table: kquic (with and without 1-RTT encryption), TCP and TCP + kTLS over
# loopback (bench/vm-bench.sh); kquic-vm-bench options in BENCH_VM_ARGS (e.g. --bulk-bytes,
# --repeat, --idle-conns; see kquic-vm-bench --help).
BENCH_VM_ARGS ?=
BENCH_VM_BIN := $(or $(CARGO_TARGET_DIR),$(ROOT)/target)/release/kquic-vm-bench
bench-vm: module
	$(CARGO) build --release -p kquic-vm-bench
	vm/run.sh -f $(FLAVOUR) -- KQUIC_BENCH_COMMIT=$$(git describe --always --dirty 2>/dev/null) \
		bench/vm-bench.sh $(KO) $(BENCH_VM_BIN) $(BENCH_VM_ARGS)

# Interop with stacks nobody here wrote: quinn (crates.io) and aioquic (PyPI, in a venv under
# ~/.cache/kquic), directly and through the impairment relay. Release mode: 10 MB transfers.
interop:
	$(CARGO) test --release -p quic-interop
	interop/aioquic/run.sh

fuzz:
	proto/fuzz/run.sh $(FUZZ_SECONDS)

# The syscall fuzzer of IPPROTO_QUIC sockets in the guest (selftests/fuzz/fuzz-kernel.sh):
# FUZZ_KERNEL_SECONDS in all, in rounds of a minute; FUZZ_KERNEL_SEED (printed when not given)
# repeats a run; FUZZ_KERNEL_ARGS adds quic_sockfuzz options; FLAVOUR=debug for the
# KASAN/lockdep/kmemleak kernel.
FUZZ_KERNEL_SECONDS ?= 300
FUZZ_KERNEL_SEED ?=
FUZZ_KERNEL_THREADS ?= 4
FUZZ_KERNEL_ARGS ?=
SOCKFUZZ_BIN := $(or $(CARGO_TARGET_DIR),$(ROOT)/target)/release/quic_sockfuzz
fuzz-kernel: module
	$(CARGO) build --release -p kquic-fuzz
	vm/run.sh -f $(FLAVOUR) -- FUZZ_KERNEL_SEED=$(FUZZ_KERNEL_SEED) FUZZ_KERNEL_THREADS=$(FUZZ_KERNEL_THREADS) \
		FUZZ_KERNEL_ARGS='$(FUZZ_KERNEL_ARGS)' \
		selftests/fuzz/fuzz-kernel.sh $(KO) $(SOCKFUZZ_BIN) $(FUZZ_KERNEL_SECONDS)

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
