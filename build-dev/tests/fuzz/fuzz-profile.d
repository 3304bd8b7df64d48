build-dev/tests/fuzz/fuzz-profile.o: tests/fuzz/fuzz-profile.c \
 builder/profile/profile.h builder/profile/node.h builder/basic/error.h \
 builder/basic/util.h preseed-gen/preseed.h
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
preseed-gen/preseed.h:
