#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Prints the options the target kernel tree gave bindgen for its own Rust bindings, read from
# the command Kbuild saved when it generated rust/bindings/bindings_generated.rs:
#   tree-bindgen-flags.sh <objtree> opts     bindgen's own options (rust target, blocklists...)
#   tree-bindgen-flags.sh <objtree> cflags   the clang flags after "--" (target, defines, -I)
# The module's bindings are then made exactly as the tree's are, whatever the kernel version,
# compiler or libclang. Paths relative to the tree become absolute (since 6.13 Kbuild builds
# external modules from their own directory). Prints nothing and fails when the tree has no
# such command (not built, or built without CONFIG_RUST).
set -eu
objtree=$1 what=$2
f=$objtree/rust/bindings/.bindings_generated.rs.cmd
if [ ! -r "$f" ]; then
	echo "kquic: $f is missing: build the kernel tree with CONFIG_RUST=y first" >&2
	exit 1
fi
objtree=$(cd "$objtree" && pwd)
line=$(sed -n 's/^\(saved\)\{0,1\}cmd_rust\/bindings\/bindings_generated\.rs := //p' "$f")
[ -n "$line" ] || { echo "kquic: no bindgen command in $f" >&2; exit 1; }
# Only the bindgen invocation, not the post-processing after ';'. The saved command is make
# text: $(pound) is Kbuild's '#', and '$$' a '$'.
line=$(printf '%s\n' "${line%%;*}" | sed -e 's/\$(pound)/#/g' -e 's/\$\$/$/g')
case $what in
opts)
	# "bindgen <header> <options> -o <output> <options> -- <cflags>": drop the program,
	# the header and the output.
	# Attributes that need a compiler feature only the kernel's own bindings crate enables
	# (cfi_encoding, for kCFI; none of those types is used here) are left out.
	opts=${line%% -- *}
	printf '%s\n' "$opts" | sed -e 's/^[^ ]* [^ ]* //' -e 's/ -o [^ ]*//' \
		-e "s/ --with-attribute-custom-[a-z]*=[^ ]*cfi_encoding[^ ]*//g"
	;;
cflags)
	cflags=${line#* -- }
	# Drop the tree's dependency file and its object's KBUILD_* names (the module sets its own);
	# anchor relative include paths at the tree.
	printf '%s\n' " $cflags " | sed -e 's/ -Wp,-MMD,[^ ]*//g' \
		-e "s/ -DKBUILD_[A-Z]*='[^']*'//g" -e 's/ -D__KBUILD_MODNAME=[^ ]*//g' \
		-e "s# -I\./# -I$objtree/#g" -e "s# -include \./# -include $objtree/#g" \
		-e "s# -I\([^/ ]\)# -I$objtree/\1#g"
	;;
*)
	echo "usage: $0 <objtree> opts|cflags" >&2
	exit 2
	;;
esac
