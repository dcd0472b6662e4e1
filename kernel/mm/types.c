/* types.c - names for the memory error enum (kernel and host builds). */
#include "mm/types.h"

/* Name of an error ("OutOfMemory", ...); "UnknownError" for values outside the enum. */
const char *mm_strerror(mm_err_t err)
{
	static const char *const names[MM_ERR_COUNT] = {
		[MM_OK]                      = "Ok",
		[MM_ERR_OUT_OF_MEMORY]       = "OutOfMemory",
		[MM_ERR_INVALID_ADDRESS]     = "InvalidAddress",
		[MM_ERR_ALREADY_MAPPED]      = "AlreadyMapped",
		[MM_ERR_NOT_MAPPED]          = "NotMapped",
		[MM_ERR_INVALID_FLAGS]       = "InvalidFlags",
		[MM_ERR_NUMA_NODE_NOT_FOUND] = "NumaNodeNotFound",
	};
	if ((unsigned)err >= MM_ERR_COUNT)
		return "UnknownError";
	return names[err];
}
