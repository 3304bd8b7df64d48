build-dev/builder/finish/boot-test.o: builder/finish/boot-test.c \
 builder/finish/boot-test.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/basic/command.h builder/sandbox/sandbox.h \
 builder/finish/image-format.h hypervisors/qemu.h hypervisors/hv.h \
 builder/sandbox/leftovers.h
builder/finish/boot-test.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
builder/finish/image-format.h:
hypervisors/qemu.h:
hypervisors/hv.h:
builder/sandbox/leftovers.h:
