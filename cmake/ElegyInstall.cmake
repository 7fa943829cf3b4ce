# `cmake --install` lays out include/elegy/<layer>/*.hpp, the libraries, and a CMake package so
# that consumers write find_package(elegy) + target_link_libraries(app elegy::elegy).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ELEGY_INSTALLED_TARGETS elegy elegy_core elegy_kernels elegy_autodiff elegy_optim elegy_model)
install(TARGETS ${ELEGY_INSTALLED_TARGETS} EXPORT elegyTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(layer core kernels autodiff optim model)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/elegy/${layer}
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.cuh" EXCLUDE)
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/cmake/elegy.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/elegy)

install(EXPORT elegyTargets NAMESPACE elegy:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/elegy)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/elegyConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/elegyConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/elegy)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/elegyConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/elegyConfig.cmake ${PROJECT_BINARY_DIR}/elegyConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/elegy)
