/**
 * userdevice → disk number, as XAPI's `Device_number.of_string` reads it (values worked out by hand from
 * its rules: decimal = the number; xvd/sd/hd/fd + base-26 letters, a = 0; d<N>[p<M>]).
 */
import { describe, expect, it } from "vitest";
import { diskNumberOf, sameDisk } from "../provider/model/device-number";

describe("diskNumberOf", () => {
  it.each([
    ["0", 0],
    ["3", 3],
    ["15", 15],
    ["xvda", 0],
    ["xvdd", 3],
    ["xvdz", 25],
    ["xvdaa", 26],
    ["hda", 0],
    ["hdd", 3],
    ["sdb", 1],
    ["xvda1", 0],
    ["d0", 0],
    ["d536p37", 536],
  ])("%s is disk %i", (userdevice, disk) => {
    expect(diskNumberOf(userdevice)).toBe(disk);
  });

  it.each(["", "disk0", "xvd", "XVDA", "-1", "d", "xvda-1"])(
    "%j is not a device XAPI reads",
    (userdevice) => {
      expect(diskNumberOf(userdevice)).toBeUndefined();
    },
  );
});

describe("sameDisk", () => {
  it("a number and a device name of the same disk are the same disk", () => {
    expect([sameDisk("0", "xvda"), sameDisk("hdd", "3"), sameDisk("1", "xvda")]).toEqual([true, true, false]);
  });
});
