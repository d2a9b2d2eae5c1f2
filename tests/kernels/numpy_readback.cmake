# Writes a recorded v2 dump with pal-run, then reads it back with numpy.
execute_process(COMMAND ${PAL_RUN} --backend emulator --record --version v2 --dtype bf16 --seq-lens 37,700
                        --output ${DUMP} RESULT_VARIABLE run_status)
if(NOT run_status EQUAL 0)
  message(FATAL_ERROR "pal-run failed with ${run_status}")
endif()
execute_process(COMMAND ${PYTHON} ${SCRIPT} ${DUMP} RESULT_VARIABLE read_status)
if(NOT read_status EQUAL 0)
  message(FATAL_ERROR "the numpy read-back failed with ${read_status}")
endif()
