# Runs one walkthrough on the CPU emulator without colour and keeps its output for the docs
# (cmake -P). The docs quote this file with \verbinclude, so a chapter's page always shows what the
# program prints today. A failing chapter fails the docs build: a page never shows a failed run.
#
#   -DPROGRAM=path/to/pal-NN-topic -DOUTPUT=path/to/pal-NN-topic.txt
execute_process(COMMAND ${PROGRAM} --backend emulator --no-color
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${status}; the docs will not show a failed run.\n${err}\n${out}")
endif()
file(WRITE ${OUTPUT} "${out}")
