// H5Handle closes every kind of HDF5 identifier with its own close call; GDPO_H5 turns a failed
// call into gdpo::Error with the source line, the attempt, the file, the object and HDF5's error
// stack.
#include "gdpo/io/hdf5_handle.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::io {
namespace {

TEST(H5Handle, ClosesEveryKindOfIdentifier) {
  h5::init();
  gdpo::test::TempDir dir;
  std::string path = dir.file("h.h5");
  std::vector<hid_t> ids;
  {
    H5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    H5Handle group(H5Gcreate2(file.get(), "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Handle space(H5Screate(H5S_SCALAR));
    H5Handle type(H5Tcopy(H5T_NATIVE_INT));
    H5Handle plist(H5Pcreate(H5P_DATASET_CREATE));
    H5Handle dataset(H5Dcreate2(group.get(), "d", type.get(), space.get(), H5P_DEFAULT, plist.get(),
                                H5P_DEFAULT));
    H5Handle attr(
        H5Acreate2(dataset.get(), "a", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    for (const H5Handle* h : {&file, &group, &space, &type, &plist, &dataset, &attr}) {
      ASSERT_TRUE(h->valid());
      ids.push_back(h->get());
    }
    EXPECT_EQ(H5Fget_obj_count(file.get(), H5F_OBJ_ALL), 4);  // file, group, dataset, attribute
  }
  for (hid_t id : ids) EXPECT_LE(H5Iis_valid(id), 0) << id;
  EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

TEST(H5Handle, MovesAndReleasesOwnership) {
  H5Handle a(H5Screate(H5S_SCALAR));
  hid_t id = a.get();
  H5Handle b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), id);
  H5Handle c;
  c = std::move(b);
  EXPECT_EQ(c.get(), id);
  hid_t raw = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_GT(H5Iis_valid(raw), 0);  // released, not closed
  H5Sclose(raw);
  H5Handle d(H5Screate(H5S_SCALAR));
  hid_t first = d.get();
  d = H5Handle(H5Screate(H5S_SCALAR));  // assigning closes the previous identifier
  EXPECT_LE(H5Iis_valid(first), 0);
  EXPECT_EQ(d.close(), 0);
  EXPECT_FALSE(d.valid());
}

TEST(H5Handle, CheckedCallsReportLineAttemptFileObjectAndHdf5Stack) {
  h5::init();
  gdpo::test::TempDir dir;
  std::string path = dir.file("h.h5");
  H5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_EQ(GDPO_H5(H5Fflush(file.get(), H5F_SCOPE_LOCAL), "flush", path, ""), 0);
  try {
    GDPO_H5(H5Dopen2(file.get(), "missing/x", H5P_DEFAULT), "open dataset", path, "missing/x");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("tests/io/hdf5_handle_test.cpp:", 0), 0u) << msg;
    EXPECT_NE(msg.find(": cannot open dataset 'missing/x' in HDF5 file '" + path +
                       "': HDF5: H5Dopen2(): "),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("component not found"), std::string::npos) << msg;  // the innermost cause
  }
  // The stack was consumed: the next report holds only the next failure.
  try {
    GDPO_H5(H5Gopen2(file.get(), "nope", H5P_DEFAULT), "open group", path, "nope");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("H5Dopen2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gdpo::io
