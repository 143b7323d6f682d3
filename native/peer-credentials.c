/*
 * SO_PEERCRED and SO_PEERPIDFD for Node (Linux), as a Node-API addon so one
 * build serves Node and Electron alike. Node exposes neither option; without
 * them the agent had to fork `ss` per connection to learn who connected.
 *
 * peerCredentials(fd) -> [pid, uid, gid, pidfd]: what the kernel recorded
 *   when the peer called connect(); pidfd is -1 where the kernel has no
 *   SO_PEERPIDFD (before Linux 6.5).
 * pidfdAlive(pidfd) -> boolean: the process the pidfd refers to has not
 *   exited (a pidfd polls readable once it has). Reading /proc/<pid> and then
 *   seeing the pidfd still alive proves the pid was not reused meanwhile.
 * closeFd(fd): closes a pidfd.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[128];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static int fd_argument(napi_env env, napi_callback_info info, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return 0;
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) return 0;
  return 1;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_argument(env, info, &fd)) {
    napi_throw_type_error(env, NULL, "expected a file descriptor");
    return NULL;
  }
  struct ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return throw_errno(env, "SO_PEERCRED", errno);
  int pidfd = -1;
  length = sizeof pidfd;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) != 0) {
    if (errno != ENOPROTOOPT && errno != EINVAL) return throw_errno(env, "SO_PEERPIDFD", errno);
    pidfd = -1;
  }
  napi_value result, value;
  napi_create_array_with_length(env, 4, &result);
  int32_t fields[4] = {cred.pid, (int32_t)cred.uid, (int32_t)cred.gid, pidfd};
  for (uint32_t i = 0; i < 4; i++) {
    napi_create_int32(env, fields[i], &value);
    napi_set_element(env, result, i, value);
  }
  return result;
}

static napi_value pidfd_alive(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_argument(env, info, &fd)) {
    napi_throw_type_error(env, NULL, "expected a file descriptor");
    return NULL;
  }
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int ready = poll(&p, 1, 0);
  if (ready < 0) return throw_errno(env, "poll", errno);
  napi_value result;
  napi_get_boolean(env, ready == 0, &result);
  return result;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (fd_argument(env, info, &fd)) close(fd);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdAlive", NULL, pidfd_alive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}
