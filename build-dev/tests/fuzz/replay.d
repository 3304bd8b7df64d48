build-dev/tests/fuzz/replay.o: tests/fuzz/replay.c builder/basic/util.h
builder/basic/util.h:
