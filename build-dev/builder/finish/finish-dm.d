build-dev/builder/finish/finish-dm.o: builder/finish/finish-dm.c \
 builder/basic/command.h builder/basic/error.h builder/basic/util.h \
 builder/sandbox/sandbox.h builder/finish/finish.h \
 builder/profile/profile.h builder/profile/node.h
builder/basic/command.h:
builder/basic/error.h:
builder/basic/util.h:
builder/sandbox/sandbox.h:
builder/finish/finish.h:
builder/profile/profile.h:
builder/profile/node.h:
