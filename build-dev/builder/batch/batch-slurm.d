build-dev/builder/batch/batch-slurm.o: builder/batch/batch-slurm.c \
 builder/batch/batch.h builder/basic/error.h builder/basic/util.h \
 builder/basic/command.h builder/sandbox/sandbox.h
builder/batch/batch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
