build-dev/builder/cli/cmd-validate.o: builder/cli/cmd-validate.c \
 preseed-gen/preseed.h builder/profile/profile.h builder/profile/node.h \
 builder/basic/error.h builder/basic/util.h \
 builder/profile/profile-schema.h builder/profile/profile-files.h \
 builder/cli/cli.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/hash.h
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
builder/profile/profile-schema.h:
builder/profile/profile-files.h:
builder/cli/cli.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
