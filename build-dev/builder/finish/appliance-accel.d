build-dev/builder/finish/appliance-accel.o: \
 builder/finish/appliance-accel.c builder/finish/appliance-accel.h \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h hypervisors/qemu.h \
 hypervisors/hv.h
builder/finish/appliance-accel.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
hypervisors/qemu.h:
hypervisors/hv.h:
