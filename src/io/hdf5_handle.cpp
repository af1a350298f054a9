#include "gdpo/io/hdf5_handle.hpp"

#include <mutex>

#include "gdpo/core/error.hpp"

namespace gdpo::io {

herr_t H5Handle::close() noexcept {
  if (id_ < 0) return 0;
  hid_t id = release();
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      return H5Fclose(id);
    case H5I_GROUP:
      return H5Gclose(id);
    case H5I_DATASET:
      return H5Dclose(id);
    case H5I_DATASPACE:
      return H5Sclose(id);
    case H5I_DATATYPE:
      return H5Tclose(id);
    case H5I_GENPROP_LST:
      return H5Pclose(id);
    case H5I_ATTR:
      return H5Aclose(id);
    default:
      return H5Idec_ref(id) < 0 ? -1 : 0;  // an id of another kind: drop our reference
  }
}

void H5Handle::reset() noexcept {
  if (id_ >= 0 && close() < 0) H5Eclear2(H5E_DEFAULT);
}

namespace h5 {

void init() {
  static std::once_flag once;
  std::call_once(once, [] { H5open(); });
  // The automatic printer is per thread in a thread-safe build: switch it off on every thread.
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

namespace {
herr_t append_frame(unsigned n, const H5E_error2_t* err, void* data) {
  auto& out = *static_cast<std::string*>(data);
  if (!out.empty()) out += "; ";
  out += std::string(err->func_name ? err->func_name : "?") + "(): ";
  if (err->desc && *err->desc) {
    out += err->desc;
  } else {
    char minor[256] = {0};
    H5Eget_msg(err->min_num, nullptr, minor, sizeof(minor));
    out += minor;
  }
  return 0;
}
}  // namespace

std::string error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, append_frame, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no HDF5 error stack" : "HDF5: " + text;
}

std::string failure_message(const char* file, int line, const std::string& what,
                            const std::string& path, const std::string& object) {
  std::string msg = detail::source_location(file, line) + "cannot " + what;
  if (!object.empty()) msg += " '" + object + "'" + (path.empty() ? "" : " in");
  if (!path.empty()) msg += " HDF5 file '" + path + "'";
  msg += ": " + error_stack();
  return msg;
}

void throw_failure(const char* file, int line, const char* what, const std::string& path,
                   const std::string& object) {
  throw Error(failure_message(file, line, what, path, object));
}

std::vector<std::string> child_names(hid_t group, const std::string& path,
                                     const std::string& name) {
  H5G_info_t info;
  GDPO_H5(H5Gget_info(group, &info), "list group", path, name);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = GDPO_H5(
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
        "list group", path, name);
    std::vector<char> buf(static_cast<size_t>(len) + 1);
    GDPO_H5(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf.data(), buf.size(),
                               H5P_DEFAULT),
            "list group", path, name);
    names.emplace_back(buf.data(), static_cast<size_t>(len));
  }
  return names;
}

}  // namespace h5
}  // namespace gdpo::io
