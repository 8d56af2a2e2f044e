// SPDX-License-Identifier: GPL-2.0
/* Builds the draft's Appendix A program unchanged (see README.md). */
#include "appendix-a.c"
