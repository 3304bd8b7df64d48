build-dev/tests/builder/test-install-log.o: \
 tests/builder/test-install-log.c builder/install/install-log.h \
 builder/basic/error.h builder/basic/util.h
builder/install/install-log.h:
builder/basic/error.h:
builder/basic/util.h:
