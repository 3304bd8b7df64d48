build-dev/tests/fuzz/fuzz-index.o: tests/fuzz/fuzz-index.c \
 builder/media/archive-index.h builder/basic/error.h builder/basic/util.h
builder/media/archive-index.h:
builder/basic/error.h:
builder/basic/util.h:
