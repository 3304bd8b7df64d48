build-dev/tests/fuzz/fuzz-install-log.o: tests/fuzz/fuzz-install-log.c \
 builder/install/install-log.h builder/basic/error.h builder/basic/util.h
builder/install/install-log.h:
builder/basic/error.h:
builder/basic/util.h:
