build-dev/builder/install/install-log.o: builder/install/install-log.c \
 builder/install/install-log.h builder/basic/error.h builder/basic/util.h
builder/install/install-log.h:
builder/basic/error.h:
builder/basic/util.h:
