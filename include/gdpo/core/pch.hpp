// Precompiled header shared by every target: LibTorch and the standard library.
// Parsing <torch/torch.h> costs ~10 s per translation unit; compiling it once keeps builds short.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
