// RAII ownership of HDF5 identifiers and checked HDF5 calls (HDF5 1.10 C API). Every hid_t the io
// module opens is held by an H5Handle, closed with the matching H5*close; every failing call
// becomes a gdpo::Error carrying file:line, what was attempted, the HDF5 file and object, and
// HDF5's error stack.
#pragma once
#include <hdf5.h>

#include <string>
#include <vector>

namespace gdpo::io {

// Owns one HDF5 identifier (file, group, dataset, dataspace, datatype, property list, attribute)
// and closes it with H5Fclose/H5Gclose/H5Dclose/H5Sclose/H5Tclose/H5Pclose/H5Aclose chosen by its
// type.
class H5Handle {
 public:
  H5Handle() = default;
  explicit H5Handle(hid_t id) : id_(id) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept : id_(other.release()) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.release();
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Gives up ownership without closing.
  hid_t release() noexcept {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  // Closes the identifier (if any), ignoring failures; see close() to have them reported.
  void reset() noexcept;
  // Closes the identifier and returns the H5*close status (negative on failure, e.g. a failed
  // flush).
  herr_t close() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
};

namespace h5 {

// Initialises the library once per process and turns off HDF5's automatic error printing (errors
// are reported through exceptions instead). Idempotent and cheap; every entry point of the io layer
// calls it.
void init();

// HDF5's error stack of the calling thread as one line ("H5Dopen2(): unable to open dataset; ..."),
// innermost cause last; clears the stack.
std::string error_stack();

// "src/io/x.cpp:12: cannot <what> '<object>' in HDF5 file '<path>': <error stack>" (without the
// object: "cannot <what> HDF5 file '<path>': ...").
std::string failure_message(const char* file, int line, const std::string& what,
                            const std::string& path, const std::string& object);

// Throws gdpo::Error(failure_message(...)) when `status` is negative; otherwise returns it.
template <class T>
T check(T status, const char* file, int line, const char* what, const std::string& path,
        const std::string& object);

// Names of the links in the group `group` (of HDF5 file `path`, for messages), sorted by name.
std::vector<std::string> child_names(hid_t group, const std::string& path, const std::string& name);

[[noreturn]] void throw_failure(const char* file, int line, const char* what,
                                const std::string& path, const std::string& object);

template <class T>
T check(T status, const char* file, int line, const char* what, const std::string& path,
        const std::string& object) {
  if (status < 0) throw_failure(file, line, what, path, object);
  return status;
}

}  // namespace h5
}  // namespace gdpo::io

// GDPO_H5(H5Dopen2(...), "open dataset", file_path, object_name): the call's result, or a
// gdpo::Error naming this source line, the attempt, the file, the object and HDF5's error stack.
#define GDPO_H5(call, what, path, object) \
  ::gdpo::io::h5::check((call), __FILE__, __LINE__, what, path, object)
