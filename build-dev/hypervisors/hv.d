build-dev/hypervisors/hv.o: hypervisors/hv.c hypervisors/hv.h \
 builder/basic/error.h builder/basic/util.h
hypervisors/hv.h:
builder/basic/error.h:
builder/basic/util.h:
