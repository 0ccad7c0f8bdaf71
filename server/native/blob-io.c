// Blob I/O for the server's filesystem store, each call one thread-pool task (the event loop pays one submission and
// one completion instead of one per system call):
//
// writeBlob(path, buffers, callback): creates `path` (O_EXCL, mode 0600) with the bytes of `buffers` and makes it
// durable, all in one thread-pool task, so that storing an instance costs the event loop one submission.
//
// Whole blocks are written with direct I/O (O_DIRECT): from the caller's memory (copied in 1 MiB pieces into an
// aligned per-thread buffer) to the device, without filling the page cache. The last partial block is written through
// a second descriptor opened with O_DSYNC; that write returns once the tail, the file's size and its allocation are
// stable and the device cache has been flushed, which covers the direct writes completed before it. A blob whose
// length is a whole number of blocks is fdatasync'd instead. Where the filesystem refuses direct I/O (EINVAL at open
// or at the first write), the whole blob is written through the page cache with O_DSYNC.
//
// The callback gets (error) or (null, directBytes): how many bytes went through direct I/O. Errors carry `code`, the
// errno name, like Node's own. On failure the file is removed.
//
// readBlob(path, start, target, callback): opens `path`, reads up to target.length bytes at `start` into `target`,
// closes it; calls back with (error) or (null, bytesRead) — fewer bytes than asked only at the end of the file.
//
// Node-API: one build serves every Node version.
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLOCK 4096
#define PIECE (1024 * 1024)
#define MAX_BUFFERS 4096

typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref buffers;
  char *path;
  size_t count;
  struct iovec *iov;
  size_t total;
  size_t direct_bytes;
  int error;
  const char *failed_call;
} blob_task;

static __thread unsigned char *piece_buffer = NULL;

static const char *errno_name(int error) {
  switch (error) {
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EIO: return "EIO";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EFBIG: return "EFBIG";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    default: return "EBLOBWRITE";
  }
}

// Copies `length` bytes starting at byte `offset` of the iovec list into `out`.
static void gather(const blob_task *task, size_t offset, unsigned char *out, size_t length) {
  size_t i = 0;
  while (i < task->count && offset >= task->iov[i].iov_len) {
    offset -= task->iov[i].iov_len;
    i += 1;
  }
  while (length > 0 && i < task->count) {
    size_t take = task->iov[i].iov_len - offset;
    if (take > length) take = length;
    memcpy(out, (const unsigned char *)task->iov[i].iov_base + offset, take);
    out += take;
    length -= take;
    offset = 0;
    i += 1;
  }
}

// pwrite of the bytes [from, total) of the iovec list at file offset `from`, however many calls it takes.
static int write_range(int fd, const blob_task *task, size_t from) {
  struct iovec local[64];
  while (from < task->total) {
    size_t skip = from;
    size_t i = 0;
    while (i < task->count && skip >= task->iov[i].iov_len) {
      skip -= task->iov[i].iov_len;
      i += 1;
    }
    int n = 0;
    for (; i < task->count && n < 64; i += 1, n += 1) {
      local[n].iov_base = (unsigned char *)task->iov[i].iov_base + skip;
      local[n].iov_len = task->iov[i].iov_len - skip;
      skip = 0;
    }
    ssize_t written = pwritev(fd, local, n, (off_t)from);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (written == 0) return EIO;
    from += (size_t)written;
  }
  return 0;
}

static void fail(blob_task *task, int error, const char *call) {
  if (task->error == 0) {
    task->error = error;
    task->failed_call = call;
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  blob_task *task = data;
  size_t aligned = task->total - task->total % BLOCK;
  int direct = aligned > 0;
  int fd = open(task->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (direct ? O_DIRECT : O_DSYNC), 0600);
  if (fd < 0 && direct && errno == EINVAL) {
    direct = 0;
    fd = open(task->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DSYNC, 0600);
  }
  if (fd < 0) {
    fail(task, errno, "open");
    return;
  }
  size_t done = 0;
  if (direct) {
    if (piece_buffer == NULL && posix_memalign((void **)&piece_buffer, BLOCK, PIECE) != 0) piece_buffer = NULL;
    if (piece_buffer == NULL) direct = 0;
    while (direct && done < aligned) {
      size_t length = aligned - done < PIECE ? aligned - done : PIECE;
      gather(task, done, piece_buffer, length);
      ssize_t written = pwrite(fd, piece_buffer, length, (off_t)done);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0 && errno == EINVAL && done == 0) {
        direct = 0;  // This device wants another alignment: go through the page cache.
        break;
      }
      if (written <= 0) {
        fail(task, written < 0 ? errno : EIO, "write");
        break;
      }
      done += (size_t)written;
    }
    if (!direct && task->error == 0) {
      close(fd);
      fd = open(task->path, O_WRONLY | O_CLOEXEC | O_DSYNC, 0600);
      if (fd < 0) fail(task, errno, "open");
      done = 0;
    }
  }
  if (task->error == 0) {
    if (!direct) {
      int error = write_range(fd, task, 0);  // O_DSYNC: durable on return.
      if (error != 0) fail(task, error, "write");
    } else {
      task->direct_bytes = done;
      if (done < task->total) {
        int tail = open(task->path, O_WRONLY | O_CLOEXEC | O_DSYNC);
        if (tail < 0) fail(task, errno, "open");
        else {
          int error = write_range(tail, task, done);
          if (error != 0) fail(task, error, "write");
          if (close(tail) != 0 && task->error == 0) fail(task, errno, "close");
        }
      } else if (fdatasync(fd) != 0) {
        fail(task, errno, "fdatasync");
      }
    }
    // An empty blob: nothing was written, so O_DSYNC synced nothing.
    if (task->error == 0 && task->total == 0 && fdatasync(fd) != 0) fail(task, errno, "fdatasync");
  }
  if (fd >= 0 && close(fd) != 0) fail(task, errno, "close");
  if (task->error != 0) unlink(task->path);
}

// Calls back (error) when `error` (an errno, or ECANCELED when the task did not run) is set, else (null, value); then
// drops the callback reference.
static void call_back(napi_env env, napi_status status, napi_ref callback_ref, int error, const char *failed_call, const char *path, double value) {
  napi_value callback, global, argv[2];
  napi_get_reference_value(env, callback_ref, &callback);
  napi_get_global(env, &global);
  if (status != napi_ok || error != 0) {
    if (status != napi_ok) error = ECANCELED;
    char message[512];
    snprintf(message, sizeof message, "%s: %s, %s '%s'", errno_name(error), strerror(error), failed_call, path);
    napi_value text, code;
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
    napi_create_string_utf8(env, errno_name(error), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, text, &argv[0]);
    napi_set_named_property(env, argv[0], "code", code);
    napi_call_function(env, global, callback, 1, argv, NULL);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_double(env, value, &argv[1]);
    napi_call_function(env, global, callback, 2, argv, NULL);
  }
  napi_delete_reference(env, callback_ref);
}

static void free_blob_task(blob_task *task) {
  free(task->iov);
  free(task->path);
  free(task);
}

static void complete(napi_env env, napi_status status, void *data) {
  blob_task *task = data;
  call_back(env, status, task->callback, task->error, task->failed_call ? task->failed_call : "write", task->path, (double)task->direct_bytes);
  napi_delete_reference(env, task->buffers);
  napi_delete_async_work(env, task->work);
  free_blob_task(task);
}

// The path argument, copied (the caller frees it); NULL after throwing when it is not a usable path.
static char *path_argument(napi_env env, napi_value value, const char *function) {
  size_t length = 0;
  char message[128];
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok || length == 0 || length > 4096) {
    snprintf(message, sizeof message, "%s: the path must be a non-empty string", function);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  char *path = malloc(length + 1);
  if (path == NULL) {
    snprintf(message, sizeof message, "%s: out of memory", function);
    napi_throw_error(env, "ENOMEM", message);
    return NULL;
  }
  napi_get_value_string_utf8(env, value, path, length + 1, NULL);
  return path;
}

// Queues `data` as a thread-pool task; false after throwing when it could not be queued.
static bool queue_task(napi_env env, const char *function, napi_async_execute_callback execute, napi_async_complete_callback done, void *data, napi_async_work *work) {
  napi_value name;
  napi_create_string_utf8(env, function, NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, done, data, work) == napi_ok && napi_queue_async_work(env, *work) == napi_ok) return true;
  char message[128];
  snprintf(message, sizeof message, "%s: could not queue the task", function);
  napi_throw_error(env, NULL, message);
  return false;
}

static napi_value write_blob(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_valuetype callback_type;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_typeof(env, argv[2], &callback_type) != napi_ok || callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "writeBlob(path, buffers, callback)");
    return NULL;
  }
  uint32_t count = 0;
  napi_get_array_length(env, argv[1], &count);
  if (count > MAX_BUFFERS) {
    napi_throw_range_error(env, NULL, "writeBlob: too many buffers");
    return NULL;
  }
  char *path = path_argument(env, argv[0], "writeBlob");
  if (path == NULL) return NULL;
  blob_task *task = calloc(1, sizeof *task);
  struct iovec *iov = calloc(count > 0 ? count : 1, sizeof *iov);
  if (task == NULL || iov == NULL) {
    free(path);
    free(iov);
    free(task);
    napi_throw_error(env, "ENOMEM", "writeBlob: out of memory");
    return NULL;
  }
  task->path = path;
  task->iov = iov;
  task->count = count;
  for (uint32_t i = 0; i < count; i += 1) {
    napi_value element;
    bool is_buffer = false;
    void *bytes = NULL;
    size_t length = 0;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok || napi_is_buffer(env, element, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, element, &bytes, &length) != napi_ok) {
      free_blob_task(task);
      napi_throw_type_error(env, NULL, "writeBlob: buffers must be an array of Buffers");
      return NULL;
    }
    task->iov[i].iov_base = bytes;
    task->iov[i].iov_len = length;
    task->total += length;
  }
  // The array (and so its Buffers) stays referenced until the task completes.
  napi_create_reference(env, argv[1], 1, &task->buffers);
  napi_create_reference(env, argv[2], 1, &task->callback);
  if (!queue_task(env, "writeBlob", execute, complete, task, &task->work)) {
    napi_delete_reference(env, task->buffers);
    napi_delete_reference(env, task->callback);
    free_blob_task(task);
  }
  return NULL;
}

typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref target;
  char *path;
  unsigned char *bytes;
  size_t length;
  int64_t start;
  size_t done;
  int error;
  const char *failed_call;
} read_task;

static void read_execute(napi_env env, void *data) {
  (void)env;
  read_task *task = data;
  int fd = open(task->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    task->error = errno;
    task->failed_call = "open";
    return;
  }
  while (task->done < task->length) {
    ssize_t got = pread(fd, task->bytes + task->done, task->length - task->done, (off_t)(task->start + (int64_t)task->done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      task->error = errno;
      task->failed_call = "read";
      break;
    }
    if (got == 0) break;
    task->done += (size_t)got;
  }
  close(fd);
}

static void read_complete(napi_env env, napi_status status, void *data) {
  read_task *task = data;
  call_back(env, status, task->callback, task->error, task->failed_call ? task->failed_call : "read", task->path, (double)task->done);
  napi_delete_reference(env, task->target);
  napi_delete_async_work(env, task->work);
  free(task->path);
  free(task);
}

static napi_value read_blob(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_valuetype callback_type;
  bool is_buffer = false;
  int64_t start = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || napi_get_value_int64(env, argv[1], &start) != napi_ok || start < 0 ||
      napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer || napi_typeof(env, argv[3], &callback_type) != napi_ok || callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "readBlob(path, start, target, callback)");
    return NULL;
  }
  char *path = path_argument(env, argv[0], "readBlob");
  if (path == NULL) return NULL;
  read_task *task = calloc(1, sizeof *task);
  if (task == NULL) {
    free(path);
    napi_throw_error(env, "ENOMEM", "readBlob: out of memory");
    return NULL;
  }
  task->path = path;
  void *bytes = NULL;
  napi_get_buffer_info(env, argv[2], &bytes, &task->length);
  task->bytes = bytes;
  task->start = start;
  // The target stays referenced until the task completes.
  napi_create_reference(env, argv[2], 1, &task->target);
  napi_create_reference(env, argv[3], 1, &task->callback);
  if (!queue_task(env, "readBlob", read_execute, read_complete, task, &task->work)) {
    napi_delete_reference(env, task->target);
    napi_delete_reference(env, task->callback);
    free(task->path);
    free(task);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "writeBlob", NAPI_AUTO_LENGTH, write_blob, NULL, &fn);
  napi_set_named_property(env, exports, "writeBlob", fn);
  napi_create_function(env, "readBlob", NAPI_AUTO_LENGTH, read_blob, NULL, &fn);
  napi_set_named_property(env, exports, "readBlob", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
