# Writes recorded v2 dumps with pal-run (an auto bf16 cache; an fp8 E4M3 cache with scales; an fp8
# E5M2 block-sparse run, fp16 at head 128 / block 16 as every build compiles them), then reads each
# back with numpy, which recomputes the output from the file alone.
set(index 0)
foreach(flags_text "--dtype bf16 --seq-lens 37,700"
                   "--head-size 128 --seq-lens 37,700 --kv-cache-dtype fp8_e4m3 --k-scale 0.5 --v-scale 0.25"
                   "--head-size 128 --seq-lens 37,700 --kv-cache-dtype fp8_e5m2 --k-scale 0.5 --v-scale 0.25 --blocksparse-local-blocks 1 --blocksparse-vert-stride 3 --blocksparse-block-size 32 --blocksparse-head-sliding-step -1 --tp-rank 1")
  separate_arguments(flags UNIX_COMMAND "${flags_text}")
  set(dump ${DUMP}.${index}.safetensors)
  execute_process(COMMAND ${PAL_RUN} --backend emulator --record --version v2 ${flags} --output ${dump}
                  RESULT_VARIABLE run_status)
  if(NOT run_status EQUAL 0)
    message(FATAL_ERROR "pal-run ${flags_text} failed with ${run_status}")
  endif()
  execute_process(COMMAND ${PYTHON} ${SCRIPT} ${dump} RESULT_VARIABLE read_status)
  if(NOT read_status EQUAL 0)
    message(FATAL_ERROR "the numpy read-back of the run with ${flags_text} failed with ${read_status}")
  endif()
  math(EXPR index "${index} + 1")
endforeach()
