/*
 * fuzz: the libFuzzer entry point every target defines. Built without
 * libFuzzer (FUZZ_LIBFUZZER), fuzz_main.c supplies main(): it replays files (arguments, or
 * the target's corpus under $srcdir/tests/fuzz/corpus/NAME) and then a
 * fixed number of deterministic pseudo-random inputs, so ./check runs them.
 */
#ifndef POSTILION_FUZZ_H
#define POSTILION_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
extern const char fuzz_target_name[];

#endif
