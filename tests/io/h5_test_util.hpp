// Test helpers for the HDF5 layer: counting open HDF5 identifiers so tests can assert no leaks.
#pragma once
#include <hdf5.h>

#include <cstdint>

namespace gdpo::io::test {

// The HDF5 identifiers open in this process: files, groups, datasets, named datatypes and
// attributes (H5Fget_obj_count), plus dataspaces, datatypes and property lists created since
// `since` (identifiers of one type are numbered consecutively, so the live ones between two probes
// are the leaked ones).
class H5IdCount {
 public:
  H5IdCount() : objects_(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)), probe_(probe()) {}
  // Objects open now minus objects open at construction.
  int64_t objects_opened() const {
    return static_cast<int64_t>(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)) - objects_;
  }
  // Dataspaces, datatypes and property lists created since construction and still open.
  int64_t transient_open() const {
    Probe now = probe();
    return live(probe_.space, now.space) + live(probe_.type, now.type) +
           live(probe_.plist, now.plist);
  }

 private:
  struct Probe {
    hid_t space, type, plist;
  };
  static Probe probe() {
    Probe p{H5Screate(H5S_SCALAR), H5Tcopy(H5T_NATIVE_INT), H5Pcreate(H5P_DATASET_XFER)};
    H5Sclose(p.space);
    H5Tclose(p.type);
    H5Pclose(p.plist);
    return p;
  }
  static int64_t live(hid_t from, hid_t to) {
    int64_t n = 0;
    for (hid_t id = from + 1; id < to; ++id) n += H5Iis_valid(id) > 0;
    return n;
  }
  ssize_t objects_;
  Probe probe_;
};

}  // namespace gdpo::io::test
