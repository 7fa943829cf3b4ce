# Third-party dependencies, all from Debian packages: libhwy-dev (Highway 1.0.3), libopenblas-dev,
# and the CUDA toolkit when present (it is optional: the CPU build never needs it).
find_package(Threads REQUIRED)
find_package(hwy REQUIRED CONFIG)
find_package(OpenBLAS REQUIRED CONFIG)  # Debian ships OpenBLASConfig.cmake (pthread variant)

add_library(elegy_openblas INTERFACE)
target_include_directories(elegy_openblas SYSTEM INTERFACE ${OpenBLAS_INCLUDE_DIRS})
target_link_libraries(elegy_openblas INTERFACE ${OpenBLAS_LIBRARIES})

set(ELEGY_WITH_CUDA OFF)
if(ELEGY_ENABLE_CUDA)
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Set explicitly, never "native": the build machine usually has no GPU to detect.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES
          80-real     # A100 (Ampere) machine code
          90-real     # H100 / H200 (Hopper) machine code
          90-virtual  # PTX, JIT-compiled by the driver on anything newer (Blackwell, ...)
      )
    endif()
    enable_language(CUDA)
    # CMake 3.25 knows nvcc's dialect flags only up to C++17; nvcc >= 12 takes -std=c++20, which
    # the layers' cxx_std_20 requirement asks of their CUDA sources too.
    if(CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0 AND NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
      list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(ELEGY_WITH_CUDA ON)
    message(STATUS "elegy: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
  else()
    message(STATUS "elegy: CUDA toolkit not found, CUDA backend OFF")
  endif()
endif()
