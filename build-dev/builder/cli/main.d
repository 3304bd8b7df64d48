build-dev/builder/cli/main.o: builder/cli/main.c preseed-gen/preseed.h \
 builder/profile/profile.h builder/profile/node.h builder/basic/error.h \
 builder/basic/util.h builder/media/fetch.h builder/finish/image-format.h \
 builder/finish/appliance.h builder/cli/cli.h builder/cache/cache.h \
 builder/basic/hash.h
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
builder/media/fetch.h:
builder/finish/image-format.h:
builder/finish/appliance.h:
builder/cli/cli.h:
builder/cache/cache.h:
builder/basic/hash.h:
