/*
 * files.c - reading whole files from the loader's own volume (the ESP).
 */
#include "loader.h"

EFI_FILE_HANDLE files_open_root(EFI_HANDLE image, EFI_LOADED_IMAGE **out_li)
{
	EFI_LOADED_IMAGE *li = NULL;
	EFI_STATUS st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st) || !li) {
		loader_fail("no LoadedImage protocol on our own handle: %s", efi_status_name(st));
		return NULL;
	}
	*out_li = li;
	EFI_FILE_IO_INTERFACE *fs = NULL;
	st = BS->HandleProtocol(li->DeviceHandle, &FileSystemProtocol, (void **)&fs);
	if (EFI_ERROR(st) || !fs) {
		loader_fail("the boot volume has no SimpleFileSystem protocol: %s", efi_status_name(st));
		return NULL;
	}
	EFI_FILE_HANDLE root = NULL;
	st = fs->OpenVolume(fs, &root);
	if (EFI_ERROR(st) || !root) {
		loader_fail("cannot open the boot volume: %s", efi_status_name(st));
		return NULL;
	}
	return root;
}

/* Returns the size of an open file, or false after loader_fail. */
static bool file_size(EFI_FILE_HANDLE f, const char *path_ascii, uint64_t *out)
{
	EFI_FILE_INFO *info = LibFileInfo(f);
	if (!info) {
		loader_fail("cannot get the size of %s", path_ascii);
		return false;
	}
	bool is_dir = info->Attribute & EFI_FILE_DIRECTORY;
	*out = info->FileSize;
	FreePool(info);
	if (is_dir) {
		loader_fail("%s is a directory, not a file", path_ascii);
		return false;
	}
	return true;
}

bool files_read(EFI_FILE_HANDLE root, const CHAR16 *path, const char *path_ascii, bool required,
		bool pool, struct loaded_file *out)
{
	out->data = NULL;
	out->size = 0;
	out->pages = 0;

	EFI_FILE_HANDLE f = NULL;
	EFI_STATUS st = root->Open(root, &f, (CHAR16 *)path, EFI_FILE_MODE_READ, 0);
	if (st == EFI_NOT_FOUND && !required)
		return true;
	if (EFI_ERROR(st)) {
		loader_fail("cannot open %s: %s", path_ascii, efi_status_name(st));
		return false;
	}

	uint64_t size;
	if (!file_size(f, path_ascii, &size))
		goto fail_close;

	/* At least one byte so that an empty file still gets a valid buffer. */
	void *buf = NULL;
	if (pool) {
		st = BS->AllocatePool(EfiBootServicesData, size ? size : 1, &buf);
	} else {
		EFI_PHYSICAL_ADDRESS pa = 0;
		out->pages = PAGE_ROUND_UP(size ? size : 1) / PAGE_SIZE;
		st = BS->AllocatePages(AllocateAnyPages, EfiLoaderData, out->pages, &pa);
		/* SAFETY: UEFI identity-maps all memory while boot services run, and pa heads `pages`
		 * pages the firmware just gave us. */
		buf = (void *)(uintptr_t)pa;
	}
	if (EFI_ERROR(st) || !buf) {
		loader_fail("out of memory reading %s (%lu bytes): %s", path_ascii, size, efi_status_name(st));
		goto fail_close;
	}

	/* Read may return fewer bytes than asked; loop until the whole file is in. */
	uint64_t done = 0;
	while (done < size) {
		UINTN chunk = size - done;
		st = f->Read(f, &chunk, (uint8_t *)buf + done);
		if (EFI_ERROR(st) || chunk == 0) {
			loader_fail("reading %s stopped at byte %lu of %lu: %s", path_ascii, done, size,
				    EFI_ERROR(st) ? efi_status_name(st) : "unexpected end of file");
			goto fail_close;
		}
		done += chunk;
	}
	f->Close(f);
	out->data = buf;
	out->size = size;
	return true;

fail_close:
	f->Close(f);
	return false;
}
