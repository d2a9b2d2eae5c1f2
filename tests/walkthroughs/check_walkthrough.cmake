# Runs one walkthrough program and judges its output (cmake -P).
#
#   -DPROGRAM=path -DNAME=pal-NN-topic -DNUMBER=N -DCOUNT=chapters -DKEYS="regex|regex|..."
#       runs it on the emulator with --no-color; passes when it exits 0, its banner names the chapter,
#       every key expression matches a line, all its checks passed, every line fits in 100 columns,
#       and the output holds no terminal escape codes.
#   -DPROGRAM=path -DNAME=... -DBAD_FLAGS="--flag|value" -DEXPECT_ERROR=text
#       passes when the program exits 2 and its stderr contains the text.
#   -DPROGRAM=path -DNAME=... -DSCRIPT=path-to-script(1)
#       runs it under a pseudo-terminal: passes when it colours its output there, and does not with
#       --no-color.
if(DEFINED SCRIPT)
  string(ASCII 27 escape)
  execute_process(COMMAND ${SCRIPT} -qec "${PROGRAM} --backend emulator" /dev/null RESULT_VARIABLE status
                  OUTPUT_VARIABLE coloured ERROR_VARIABLE err)
  execute_process(COMMAND ${SCRIPT} -qec "${PROGRAM} --backend emulator --no-color" /dev/null RESULT_VARIABLE plain_status
                  OUTPUT_VARIABLE plain ERROR_VARIABLE err)
  if(NOT status EQUAL 0 OR NOT plain_status EQUAL 0)
    message(FATAL_ERROR "${NAME} under a terminal: exit status ${status} / ${plain_status}, expected 0\n${err}")
  endif()
  string(FIND "${coloured}" "${escape}[" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${NAME} printed no colour on a terminal")
  endif()
  string(FIND "${plain}" "${escape}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${NAME} --no-color still printed escape codes on a terminal")
  endif()
  return()
endif()

if(DEFINED BAD_FLAGS)
  string(REPLACE "|" ";" flags "${BAD_FLAGS}")
  execute_process(COMMAND ${PROGRAM} --backend emulator ${flags} RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 2)
    message(FATAL_ERROR "${NAME} ${flags}: exit status ${status}, expected 2 (bad input)\nstderr: ${err}")
  endif()
  string(FIND "${err}" "${EXPECT_ERROR}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${NAME} ${flags}: stderr does not say '${EXPECT_ERROR}'\nstderr: ${err}")
  endif()
  return()
endif()

execute_process(COMMAND ${PROGRAM} --backend emulator --no-color RESULT_VARIABLE status
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NAME}: exit status ${status}, expected 0\nstdout:\n${out}\nstderr:\n${err}")
endif()

set(problems "")  # one "\n  - ..." per problem
if(NOT out MATCHES "Chapter ${NUMBER} of ${COUNT}: [^\n]+${NAME}\n")
  string(APPEND problems "\n  - the banner does not say 'Chapter ${NUMBER} of ${COUNT}: ... ${NAME}'")
endif()
if(NOT out MATCHES "\n([0-9]+) of ([0-9]+) checks passed\n")
  string(APPEND problems "\n  - no 'N of N checks passed' line")
elseif(NOT CMAKE_MATCH_1 EQUAL CMAKE_MATCH_2 OR CMAKE_MATCH_2 EQUAL 0)
  string(APPEND problems "\n  - only ${CMAKE_MATCH_1} of ${CMAKE_MATCH_2} checks passed")
endif()
# Split on '|' by hand: a CMake list would not split inside the brackets of an expression like \[x.
set(rest "${KEYS}|")
while(NOT rest STREQUAL "")
  string(FIND "${rest}" "|" bar)
  string(SUBSTRING "${rest}" 0 ${bar} key)
  math(EXPR next "${bar} + 1")
  string(SUBSTRING "${rest}" ${next} -1 rest)
  if(NOT out MATCHES "${key}")
    string(APPEND problems "\n  - no line matches the key expression '${key}'")
  endif()
endwhile()
string(ASCII 27 escape)
string(FIND "${out}" "${escape}" at)
if(NOT at EQUAL -1)
  string(APPEND problems "\n  - the output holds terminal escape codes although stdout is not a terminal")
endif()
# 100 columns: a run of 101 characters without a newline is a line too long. (Splitting the output
# into a CMake list would not work: brackets in the text suspend list splitting.)
string(REPEAT "[^\n]" 101 too_long)
if(out MATCHES "(${too_long}[^\n]*)")
  string(APPEND problems "\n  - a line wider than 100 columns: '${CMAKE_MATCH_1}'")
endif()

if(problems)
  message(FATAL_ERROR "${NAME}:${problems}\n\nstdout:\n${out}")
endif()
