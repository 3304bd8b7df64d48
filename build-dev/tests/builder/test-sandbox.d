build-dev/tests/builder/test-sandbox.o: tests/builder/test-sandbox.c \
 builder/sandbox/sandbox.h builder/basic/error.h builder/basic/util.h
builder/sandbox/sandbox.h:
builder/basic/error.h:
builder/basic/util.h:
