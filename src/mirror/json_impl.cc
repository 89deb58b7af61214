// Boost.JSON's compiled half, built once here (header-only mode: the system has no libboost_json),
// used by the shadow comparison (fingerprint.cc).
#include <boost/json/src.hpp>
