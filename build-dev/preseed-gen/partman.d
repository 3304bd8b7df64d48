build-dev/preseed-gen/partman.o: preseed-gen/partman.c \
 preseed-gen/preseed.h builder/profile/profile.h builder/profile/node.h \
 builder/basic/error.h builder/basic/util.h
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
