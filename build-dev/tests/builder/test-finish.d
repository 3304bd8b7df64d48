build-dev/tests/builder/test-finish.o: tests/builder/test-finish.c \
 builder/finish/finish.h builder/basic/error.h builder/basic/util.h \
 builder/profile/profile.h builder/profile/node.h
builder/finish/finish.h:
builder/basic/error.h:
builder/basic/util.h:
builder/profile/profile.h:
builder/profile/node.h:
