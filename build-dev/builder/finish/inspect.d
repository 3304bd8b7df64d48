build-dev/builder/finish/inspect.o: builder/finish/inspect.c \
 builder/finish/inspect.h builder/basic/error.h builder/basic/util.h \
 builder/finish/appliance.h builder/media/archive-index.h
builder/finish/inspect.h:
builder/basic/error.h:
builder/basic/util.h:
builder/finish/appliance.h:
builder/media/archive-index.h:
