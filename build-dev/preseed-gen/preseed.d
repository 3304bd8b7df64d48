build-dev/preseed-gen/preseed.o: preseed-gen/preseed.c \
 preseed-gen/preseed.h builder/profile/profile.h builder/profile/node.h \
 builder/basic/error.h builder/basic/util.h
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
