import{a}from"./chunk-TOGMPS5H.js";import"./chunk-G7P7WYOF.js";import"./chunk-PZSETCPE.js";export{a as PrivacyButton};
