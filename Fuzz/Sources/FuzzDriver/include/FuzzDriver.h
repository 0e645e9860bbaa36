// Entry points for the fuzz executables. SwiftPM links each executable with `main` aliased to
// `<Module>_main`, so libFuzzer's own `main` is never used; these call its driver instead.
#ifndef FUZZ_DRIVER_H
#define FUZZ_DRIVER_H
int FuzzGGUF_main(int argc, char **argv);
int FuzzTokenizer_main(int argc, char **argv);
#endif
