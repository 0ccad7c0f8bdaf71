// copyRange(inFd, inOffset, outFd, outOffset, length): copies a byte range from one file to another inside the kernel
// (Linux copy_file_range), so that large values the de-identification carries unchanged (pixel data) are copied once,
// page cache to page cache, instead of read into memory and written back. Node-API: one build serves every Node and
// Electron version. Returns the bytes copied (fewer when the input ends first); throws an Error whose `code` is the
// errno name (e.g. EXDEV, ENOSYS, EOPNOTSUPP), on which the caller falls back to an ordinary copy.
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <string.h>
#include <unistd.h>

static const char *errno_name(int error) {
  switch (error) {
    case EXDEV: return "EXDEV";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case EISDIR: return "EISDIR";
    case EPERM: return "EPERM";
    default: return "ECOPYRANGE";
  }
}

static napi_value copy_range(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) {
    napi_throw_type_error(env, NULL, "copyRange(inFd, inOffset, outFd, outOffset, length)");
    return NULL;
  }
  int32_t in_fd, out_fd;
  int64_t in_offset, out_offset, length;
  if (napi_get_value_int32(env, argv[0], &in_fd) != napi_ok || napi_get_value_int64(env, argv[1], &in_offset) != napi_ok ||
      napi_get_value_int32(env, argv[2], &out_fd) != napi_ok || napi_get_value_int64(env, argv[3], &out_offset) != napi_ok ||
      napi_get_value_int64(env, argv[4], &length) != napi_ok || in_offset < 0 || out_offset < 0 || length < 0) {
    napi_throw_type_error(env, NULL, "copyRange: descriptors and non-negative offsets and length expected");
    return NULL;
  }
  off64_t in_at = in_offset;
  off64_t out_at = out_offset;
  int64_t done = 0;
  while (done < length) {
    ssize_t copied = copy_file_range(in_fd, &in_at, out_fd, &out_at, (size_t)(length - done), 0);
    if (copied < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      napi_throw_error(env, errno_name(error), strerror(error));
      return NULL;
    }
    if (copied == 0) break;
    done += copied;
  }
  napi_value result;
  napi_create_int64(env, done, &result);
  return result;
}

// startWriteback(fd): asks the kernel to start writing the file's dirty pages now (sync_file_range with
// SYNC_FILE_RANGE_WRITE: asynchronous, waits for nothing, makes nothing durable by itself). A batch that flushes its
// files later then finds most of their data already written, instead of the flush writing them all at once while new
// files are being created. Advisory: returns false when the kernel refuses, and the caller goes on.
static napi_value start_writeback(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "startWriteback(fd)");
    return NULL;
  }
  int result;
  do {
    result = sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  } while (result != 0 && errno == EINTR);
  napi_value started;
  napi_get_boolean(env, result == 0, &started);
  return started;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "copyRange", NAPI_AUTO_LENGTH, copy_range, NULL, &fn);
  napi_set_named_property(env, exports, "copyRange", fn);
  napi_create_function(env, "startWriteback", NAPI_AUTO_LENGTH, start_writeback, NULL, &fn);
  napi_set_named_property(env, exports, "startWriteback", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
