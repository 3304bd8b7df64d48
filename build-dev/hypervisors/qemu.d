build-dev/hypervisors/qemu.o: hypervisors/qemu.c builder/cache/cache.h \
 builder/media/fetch.h builder/basic/error.h builder/basic/util.h \
 builder/basic/hash.h builder/basic/command.h builder/sandbox/sandbox.h \
 hypervisors/qemu.h hypervisors/hv.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
hypervisors/qemu.h:
hypervisors/hv.h:
