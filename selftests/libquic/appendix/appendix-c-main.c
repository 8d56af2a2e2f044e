// SPDX-License-Identifier: GPL-2.0
/* Builds the draft's Appendix C program, with Appendix B's functions, unchanged (see README.md). */
#include "appendix-b.h"
#include "appendix-c.c"
