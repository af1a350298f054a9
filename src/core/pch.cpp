// Translation unit that owns the shared precompiled header (see include/gdpo/core/pch.hpp).
#include "gdpo/core/pch.hpp"
