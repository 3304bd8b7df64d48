build-dev/builder/profile/node.o: builder/profile/node.c \
 builder/profile/node.h builder/basic/error.h builder/basic/util.h
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
